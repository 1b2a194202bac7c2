"""Seeing the screen: capture, downscale, encode, wait until it settles after an action
(``agent.screen.settle``, with the X server's damage reports: ``agent.screen.damage``), tell a real
change from motion (``agent.screen.change``), and keep secrets out of saved images
(``agent.screen.redact``)."""

from agent.screen.capture import (Frame, Monitor, Region, Screen, SettleResult, downscale, encode, frames_differ,
                                  wait_settled)
from agent.screen.change import blink_like, change_regions, classify, motion_limit, real_change

__all__ = ["Frame", "Monitor", "Region", "Screen", "SettleResult", "blink_like", "change_regions", "classify",
           "downscale", "encode", "frames_differ", "motion_limit", "real_change", "wait_settled"]
