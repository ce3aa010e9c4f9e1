"""``python -m dxf``: the same as the ``dxf`` command."""

from .main import main

main()
