"""The bottom layer: settings the module gives the function, its defaults, logging and metrics.

Imports nothing else of the package (the layering contract in `.importlinter` holds it).
"""
