"""alertbridge: pipeline failure notices → one alert → the tenant's Pub/Sub topic."""
