"""Errors that name the file or config key at fault, so a user knows what to fix."""


class GmnrepError(Exception):
    """Base class: a problem the user can act on (bad input, bad config, missing data)."""


class DataError(GmnrepError):
    """A raw or intermediate data file is missing, corrupt or not what was expected."""


class ConfigError(GmnrepError):
    """config.yaml (after the preset is applied) is invalid; one line per problem."""
