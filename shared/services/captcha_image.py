"""Captcha pictures drawn without an imaging library (issue 14): a PNG written with ``zlib`` alone.

Pillow and its libraries were 19 MB of the 49 MB shared layer, loaded by every function for one route.
This draws the answer in a 5x7 dot-matrix font, each character scaled, turned and moved at random, in
its own dark colour, on a light noisy background, bent by a wave, crossed by two curves and sprinkled
with dots; then encodes it as an RGB PNG (filter 0 rows, deflated): 30-40 ms in pure Python.
A captcha only slows scripts down (sign-in lockouts and rate limits do the real work), so the aim is a
picture people read at once and a script must at least segment and unbend.
"""

from __future__ import annotations

import math
import secrets
import struct
import zlib

WIDTH, HEIGHT = 160, 60
INK_RADIUS = 0.75  # a dot of the matrix, in font cells: neighbours (also diagonal ones) join into strokes

FONT = {  # 5x7, "#" on; only the characters of shared.services.captcha.ALPHABET
    "2": (" ### ", "#   #", "    #", "   # ", "  #  ", " #   ", "#####"),
    "3": (" ### ", "#   #", "    #", "  ## ", "    #", "#   #", " ### "),
    "4": ("   # ", "  ## ", " # # ", "#  # ", "#####", "   # ", "   # "),
    "5": ("#####", "#    ", "#### ", "    #", "    #", "#   #", " ### "),
    "6": ("  ## ", " #   ", "#    ", "#### ", "#   #", "#   #", " ### "),
    "7": ("#####", "    #", "   # ", "  #  ", " #   ", " #   ", " #   "),
    "8": (" ### ", "#   #", "#   #", " ### ", "#   #", "#   #", " ### "),
    "9": (" ### ", "#   #", "#   #", " ####", "    #", "   # ", " ##  "),
    "A": (" ### ", "#   #", "#   #", "#####", "#   #", "#   #", "#   #"),
    "B": ("#### ", "#   #", "#   #", "#### ", "#   #", "#   #", "#### "),
    "C": (" ### ", "#   #", "#    ", "#    ", "#    ", "#   #", " ### "),
    "D": ("###  ", "#  # ", "#   #", "#   #", "#   #", "#  # ", "###  "),
    "E": ("#####", "#    ", "#    ", "#### ", "#    ", "#    ", "#####"),
    "F": ("#####", "#    ", "#    ", "#### ", "#    ", "#    ", "#    "),
    "G": (" ### ", "#   #", "#    ", "# ###", "#   #", "#   #", " ####"),
    "H": ("#   #", "#   #", "#   #", "#####", "#   #", "#   #", "#   #"),
    "J": ("  ###", "   # ", "   # ", "   # ", "   # ", "#  # ", " ##  "),
    "K": ("#   #", "#  # ", "# #  ", "##   ", "# #  ", "#  # ", "#   #"),
    "L": ("#    ", "#    ", "#    ", "#    ", "#    ", "#    ", "#####"),
    "M": ("#   #", "## ##", "# # #", "# # #", "#   #", "#   #", "#   #"),
    "N": ("#   #", "#   #", "##  #", "# # #", "#  ##", "#   #", "#   #"),
    "P": ("#### ", "#   #", "#   #", "#### ", "#    ", "#    ", "#    "),
    "Q": (" ### ", "#   #", "#   #", "#   #", "# # #", "#  # ", " ## #"),
    "R": ("#### ", "#   #", "#   #", "#### ", "# #  ", "#  # ", "#   #"),
    "S": (" ####", "#    ", "#    ", " ### ", "    #", "    #", "#### "),
    "T": ("#####", "  #  ", "  #  ", "  #  ", "  #  ", "  #  ", "  #  "),
    "U": ("#   #", "#   #", "#   #", "#   #", "#   #", "#   #", " ### "),
    "V": ("#   #", "#   #", "#   #", "#   #", "#   #", " # # ", "  #  "),
    "W": ("#   #", "#   #", "#   #", "# # #", "# # #", "# # #", " # # "),
    "X": ("#   #", "#   #", " # # ", "  #  ", " # # ", "#   #", "#   #"),
    "Y": ("#   #", "#   #", " # # ", "  #  ", "  #  ", "  #  ", "  #  "),
    "Z": ("#####", "    #", "   # ", "  #  ", " #   ", "#    ", "#####"),
}

Pixels = list[bytearray]


def uniform(low: float, high: float) -> float:
    return low + (high - low) * secrets.randbelow(1_000_001) / 1_000_000


def inked(rows: tuple[str, ...], u: float, v: float) -> bool:
    """Whether font point (u, v) (cells: 0..5 across, 0..7 down) lies within a dot of the glyph."""
    col, row = int(u), int(v)
    for j in (row - 1, row, row + 1):
        if 0 <= j < 7:
            line = rows[j]
            for i in (col - 1, col, col + 1):
                if 0 <= i < 5 and line[i] == "#" and (u - i - 0.5) ** 2 + (v - j - 0.5) ** 2 < INK_RADIUS**2:
                    return True
    return False


def draw_text(pixels: Pixels, text: str, wave: tuple[float, float, float]) -> None:
    amplitude, length, phase = wave
    cell = WIDTH / (len(text) + 0.6)
    for index, char in enumerate(text):
        rows = FONT[char]
        scale = uniform(5.0, 6.2)  # pixels per font cell: 25..31 wide, 35..43 high
        angle = uniform(-0.38, 0.38)
        cx = cell * (index + 0.8) + uniform(-4, 4)
        cy = HEIGHT / 2 + uniform(-4, 4)
        cos, sin = math.cos(angle), math.sin(angle)
        ink = (secrets.randbelow(90), secrets.randbelow(90), 40 + secrets.randbelow(110))
        reach = int(scale * 4.6)
        for y in range(max(0, int(cy) - reach), min(HEIGHT, int(cy) + reach)):
            for x in range(max(0, int(cx) - reach), min(WIDTH, int(cx) + reach)):
                bent = y - amplitude * math.sin(2 * math.pi * x / length + phase)
                dx, dy = x - cx, bent - cy
                u = (cos * dx + sin * dy) / scale + 2.5
                v = (-sin * dx + cos * dy) / scale + 3.5
                if 0 <= u < 5 and 0 <= v < 7 and inked(rows, u, v):
                    pixels[y][3 * x : 3 * x + 3] = bytes(ink)


def draw_noise(pixels: Pixels) -> None:
    for _ in range(2):  # curves across the text, two pixels thick
        colour = bytes((secrets.randbelow(120), secrets.randbelow(120), secrets.randbelow(160)))
        base, amplitude = uniform(15, HEIGHT - 15), uniform(6, 16)
        length, phase = uniform(60, 200), uniform(0, 2 * math.pi)
        for x in range(WIDTH):
            y = int(base + amplitude * math.sin(2 * math.pi * x / length + phase))
            for yy in (y, y + 1):
                if 0 <= yy < HEIGHT:
                    pixels[yy][3 * x : 3 * x + 3] = colour
    for _ in range(180):  # dots
        x, y = secrets.randbelow(WIDTH), secrets.randbelow(HEIGHT)
        pixels[y][3 * x : 3 * x + 3] = bytes(secrets.randbelow(200) for _ in range(3))


def background() -> Pixels:
    """A light colour, a little different on every pixel."""
    base = [215 + secrets.randbelow(30) for _ in range(3)]
    noise = secrets.token_bytes(WIDTH * HEIGHT * 3)
    rows: Pixels = []
    for y in range(HEIGHT):
        start = y * WIDTH * 3
        rows.append(bytearray(min(255, base[i % 3] + (noise[start + i] & 15)) for i in range(WIDTH * 3)))
    return rows


def png(pixels: Pixels) -> bytes:
    """An 8-bit RGB PNG of ``pixels`` (rows of ``WIDTH * 3`` bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", WIDTH, HEIGHT, 8, 2, 0, 0, 0)
    raw = b"".join(b"\x00" + bytes(row) for row in pixels)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def picture(text: str) -> bytes:
    """The PNG of ``text`` (characters of ``FONT``) as a captcha."""
    pixels = background()
    wave = (uniform(2.0, 4.5), uniform(70, 140), uniform(0, 2 * math.pi))
    draw_text(pixels, text, wave)
    draw_noise(pixels)
    return png(pixels)
