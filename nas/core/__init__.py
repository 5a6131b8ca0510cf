"""The shared base that every other part imports: the architecture and its exact size, errors,
the measurement cache, atomic file writes, safe checkpoint loading and the teachers."""
