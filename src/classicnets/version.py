"""The package's version, in a module of its own: the run record and the report name it, and
importing it does not import the package's API (classicnets/__init__.py)."""

__version__ = "0.1.0"
