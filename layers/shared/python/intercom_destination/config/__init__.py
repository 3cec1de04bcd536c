"""Settings from the environment and secrets from SSM: what every stage reads."""
