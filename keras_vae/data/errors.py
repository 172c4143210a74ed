"""The one error type of keras_vae.data."""


class DataError(ValueError):
    """A data spec that cannot be loaded; the message names the spec."""

    def __init__(self, spec, problem):
        super().__init__(f"Data spec {spec!r}: {problem}")
        self.spec = spec
