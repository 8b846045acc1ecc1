"""Sub-commands beyond stack/init. Each module here registers itself with ``govwatch.cli.register_command``."""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
