"""Seeing the screen: capture, downscale, encode, wait until it settles, and keep secrets out of
saved images (``agent.screen.redact``)."""

from agent.screen.capture import (Frame, Monitor, Region, Screen, SettleResult, downscale, encode, frames_differ,
                                  wait_settled)

__all__ = ["Frame", "Monitor", "Region", "Screen", "SettleResult", "downscale", "encode", "frames_differ",
           "wait_settled"]
