"""Search spaces: built-in TOML definitions and the loader that validates and enumerates them."""

from bortnas.search_spaces.loader import SearchSpace, builtin_spaces, load_space, parse_space

__all__ = ["SearchSpace", "builtin_spaces", "load_space", "parse_space"]
