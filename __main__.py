"""Quintas CRM on AWS: one stack (staging or prod) of the whole environment.

Reads the stack settings once, builds the platform from them and exports the
outputs the DNS cutover and the operators use.
"""

from components.config import StackConfig

config = StackConfig.load()
