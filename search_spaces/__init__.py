"""Search spaces: built-in TOML definitions and the loader that validates and enumerates them."""

from .loader import SearchSpace, builtin_spaces, load_space, parse_space

__all__ = ["SearchSpace", "builtin_spaces", "load_space", "parse_space"]
