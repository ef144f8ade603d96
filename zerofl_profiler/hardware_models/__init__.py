"""All of costing, torch-free: what a counted workload costs on a device, over a network, in a fleet.

One job per module, in the order a device name travels to a price:
``selection`` (CostingSelection -> Costing) -> ``catalogue`` (names, shipped files) ->
``devicefile`` (TOML format, validation, ranges) -> ``records`` (DeviceSpec, DeviceProfile,
NetworkSpec) -> ``workload`` (StepProfile, ClientRounds) -> ``pricing`` (roofline, sparse, top-k,
energy, radio) -> ``rounds`` (the device-mix rule: clients -> rounds) -> ``results``.
``population`` parses ``--device-mix``. ``spec`` and ``cost`` are older import paths.
"""

from .catalogue import (
    device_names,
    get_device,
    get_network,
    load_catalogue,
    load_networks,
    network_names,
    parse_name,
    resolve_device,
)
from .records import DeviceProfile, DeviceSpec, NetworkSpec, Quantity, Source
from .selection import Costing, CostingSelection, resolve_costing

__all__ = ["Costing", "CostingSelection", "DeviceProfile", "DeviceSpec", "NetworkSpec", "Quantity", "Source",
           "device_names", "get_device", "get_network", "load_catalogue", "load_networks", "network_names",
           "parse_name", "resolve_costing", "resolve_device"]
