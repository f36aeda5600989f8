"""Background worker: claims jobs from the queue and runs their handlers."""
