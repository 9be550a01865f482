"""The external services' clients: MAST (through astroquery), the Exoplanet Archive's TAP service, and the
HTTP sessions with their retries."""
