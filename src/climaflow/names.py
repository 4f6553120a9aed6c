"""Names that become parts of paths (variables, regions, scenarios, models) stay inside them."""

import re

_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")


def check_path_component(value: str, what: str) -> str:
    """Return ``value`` if it is safe as one path component, else raise ``ValueError``.

    Safe: letters, digits and ``. _ + -``, starting with a letter or digit. That refuses
    ``..``, absolute paths, separators and anything else that could leave the directory
    a name is joined to (e.g. a model name from a config file).
    """
    if not isinstance(value, str) or not _SAFE.fullmatch(value) or value in {".", ".."}:
        raise ValueError(
            f"{what} {value!r} cannot be used in a path: use letters, digits and . _ + - only"
        )
    return value
