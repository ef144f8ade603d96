"""A LeNet-5-style network: two 5x5 conv + ReLU + max-pool stages, three linear layers."""

from __future__ import annotations

from torch import nn

from .registry import check_input, register_model, spatial_after


@register_model("lenet", (1, 28, 28), "LeNet-5-style: conv5x5(6)-pool-conv5x5(16)-pool-120-84-classes")
def lenet(num_classes: int = 10, input_shape: tuple[int, ...] = (1, 28, 28)) -> nn.Module:
    """The classic small model (first conv padded by 2, as LeNet on 28x28 MNIST)."""
    c, h, w = check_input("lenet", input_shape, 12)

    def out(s: int) -> int:
        s = spatial_after(s, 5, 1, 2) // 2
        return spatial_after(s, 5) // 2

    return nn.Sequential(
        nn.Conv2d(c, 6, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(inplace=True), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(16 * out(h) * out(w), 120), nn.ReLU(inplace=True), nn.Linear(120, 84), nn.ReLU(inplace=True),
        nn.Linear(84, num_classes))
