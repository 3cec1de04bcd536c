"""Running a mapped plan against Intercom with the fewest calls, and the warm identity map it uses."""
