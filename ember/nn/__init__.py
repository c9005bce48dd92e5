"""ember.nn: modules, parameters, functional API, init and utilities."""
from . import attention, functional, init, modules, utils
from .functional import grad
from .modules import *  # noqa: F403
from .parameter import Buffer, Parameter, UninitializedBuffer, UninitializedParameter
