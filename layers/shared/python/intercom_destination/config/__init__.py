"""Settings from the environment, secrets and the actions file from SSM: what every stage reads."""
