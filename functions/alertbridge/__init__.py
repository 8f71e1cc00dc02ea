"""alertbridge: pipeline failure notices → one alert → the tenant's Pub/Sub topic."""

import os

# pydantic looks for plugins in every installed distribution's entry points when the first
# model is built (importlib.metadata over site-packages): 5-10 ms of every function's cold
# start here (more with more packages installed) for plugins alertbridge never uses. Set the
# variable yourself to keep them.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
