"""HTTP ingress endpoints, one module per endpoint; ``common`` holds what they share."""
