"""The app's routes, one module per area; each has a module-level ``router`` that takes what it
needs through `web.dependencies`, and `web.app.create_app` includes them."""
