"""ember.nn: modules, parameters, functional API, init and utilities."""
from . import functional, init, modules, utils
from .modules import *  # noqa: F403
from .parameter import Buffer, Parameter, UninitializedBuffer, UninitializedParameter
