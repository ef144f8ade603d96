"""Device catalogue and cost models (no torch here): what a counted workload costs on a device.

``spec`` holds the records and the TOML schema, ``catalogue`` the shipped files and the name
grammar, ``cost`` the roofline/energy/network equations (numpy), ``population`` the device mix.
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
from .spec import DeviceProfile, DeviceSpec, NetworkSpec, Quantity, Source

__all__ = ["DeviceProfile", "DeviceSpec", "NetworkSpec", "Quantity", "Source", "device_names", "get_device",
           "get_network", "load_catalogue", "load_networks", "network_names", "parse_name", "resolve_device"]
