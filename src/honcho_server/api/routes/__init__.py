"""One module per resource; each route parses, authorizes (via its policy), calls a service, maps."""
