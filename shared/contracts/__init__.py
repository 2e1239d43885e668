"""Request and response models of the HTTP calls between our services, defined once."""
