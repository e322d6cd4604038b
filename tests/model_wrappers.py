"""Test helpers: a sequence model seen through a narrower interface."""


class ForwardOnly:
    """A model without ``stepper()``: the decoding loops then step with ``forward``."""

    def __init__(self, model):
        self.inner, self.config, self.output_size = model, model.config, model.output_size

    @property
    def training(self):
        return self.inner.training

    def train(self, mode=True):
        self.inner.train(mode)
        return self

    def forward(self, x, h0=None):
        return self.inner.forward(x, h0)
