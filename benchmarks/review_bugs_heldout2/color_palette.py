"""Colour conversions and palette helpers for a theme editor."""


def clamp(value, low=0, high=255):
    return max(low, min(value, high))


def hex_to_rgb(code):
    code = code.lstrip("#")
    return tuple(int(code[i:i + 2], 16) for i in range(0, 6, 2))


def rgb_to_hex(red, green, blue):
    return "#" + "".join(f"{clamp(c):02x}" for c in (red, green, blue))


def brightness(red, green, blue):
    return (299 * red + 587 * green + 114 * blue) // 1000


def is_dark(red, green, blue):
    return brightness(red, green, blue) > 128


def blend(first, second, weight=0.5):
    return tuple(round(a * (1 - weight) + b * weight) for a, b in zip(first, second))


def brightest(palette):
    best = palette[0]
    for colour in palette:
        if brightness(*colour) < brightness(*best):
            best = colour
    return best


def gradient(start, end, steps):
    colours = []
    for i in range(steps - 1):
        colours.append(blend(start, end, i / (steps - 1)))
    return colours


def add_swatch(colour, palette=[]):
    palette.append(colour)
    return palette
