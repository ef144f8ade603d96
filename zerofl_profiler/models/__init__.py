"""Built-in models by short name (``MODELS``) and a loader for user factories.

``build_model("resnet18", 10, (3, 32, 32))``; ``build_model("pkg.mod:factory", ...)`` or
``build_model("path/to/file.py:factory", ...)``: the factory gets ``num_classes`` and
``input_shape`` when its signature accepts them.
"""

from . import cnn as _cnn  # noqa: F401  (registers the built-ins)
from . import lenet as _lenet  # noqa: F401
from . import mobilenet as _mobilenet  # noqa: F401
from . import resnet as _resnet  # noqa: F401
from . import vgg as _vgg  # noqa: F401
from .loader import build_model, default_input_shape, load_factory
from .registry import MODELS, ModelEntry, register_model

__all__ = ["MODELS", "ModelEntry", "register_model", "build_model", "default_input_shape", "load_factory"]
