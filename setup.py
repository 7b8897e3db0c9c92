from setuptools import setup

# Beam's --setup_file needs a setup.py; all metadata lives in pyproject.toml.
setup()
