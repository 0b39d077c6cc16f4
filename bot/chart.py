"""Re-export shim: the digest chart renderer lives in `scheduler.digest_chart`."""

from scheduler.digest_chart import HEIGHT_PX, WIDTH_PX, encode_png, render_chart

__all__ = ["HEIGHT_PX", "WIDTH_PX", "encode_png", "render_chart"]
