"""Reading a request: auth, bounded JSON, the event models, event times, the answers and the API document."""
