"""One router per feature of the gateway; `create_gateway_app` includes them all."""
