"""An image backend that paints a landscape from the words of the prompt, with Pillow only.

The offline default for pictures: no model, no network, under a second of CPU. Words of the prompt
(English, French, Italian, Spanish, German) pick the time of day, weather, setting, colour,
mountains, a lighthouse or a tree; a hash of the normalised prompt seeds the rest. Same prompt,
same PNG bytes. It is not a neural model, and its label and caption say so.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import math
import random
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFilter

from .procedural_words import VOCABULARY, normalise_prompt, unpaintable

__all__ = ["MODEL_LABEL", "Scene", "normalise_prompt", "render", "scene_for_prompt", "unpaintable"]

MODEL_LABEL = "procedural renderer (not a neural model)"
MIN_SIDE, MAX_SIDE = 64, 1536

RGB = tuple[int, int, int]

FEATURE_ORDER = ("mountains", "lighthouse", "tree")  # also the order of painting
ACCENTS: dict[str, RGB] = {
    "red": (205, 35, 40), "orange": (240, 125, 30), "yellow": (240, 200, 45),
    "green": (50, 160, 70), "blue": (35, 85, 210), "purple": (130, 60, 170), "black": (20, 20, 28),
    "pink": (240, 120, 170), "grey": (128, 128, 135), "white": (238, 238, 242),
}  # fmt: skip
SKY: dict[str, list[tuple[float, RGB]]] = {
    "day": [(0.0, (62, 120, 200)), (0.6, (135, 185, 235)), (1.0, (210, 228, 245))],
    "sunrise": [(0.0, (95, 130, 200)), (0.55, (235, 170, 180)), (1.0, (255, 224, 165))],
    "sunset": [(0.0, (45, 35, 95)), (0.45, (200, 80, 95)), (0.8, (250, 150, 80)),
               (1.0, (255, 200, 120))],
    "night": [(0.0, (5, 8, 28)), (0.6, (20, 28, 70)), (1.0, (52, 46, 98))],
}  # fmt: skip
# For each time of day: brightness, tint and tint amount of lit things; sun (or moon); clouds.
TIME_STYLE: dict[str, tuple[float, RGB, float, RGB, RGB]] = {
    "day": (1.0, (255, 255, 255), 0.0, (255, 246, 210), (255, 255, 255)),
    "sunrise": (0.85, (255, 190, 170), 0.2, (255, 214, 150), (255, 225, 215)),
    "sunset": (0.62, (110, 45, 80), 0.35, (255, 170, 90), (250, 165, 150)),
    "night": (0.32, (20, 26, 70), 0.5, (240, 238, 220), (70, 76, 112)),
}
LAND: dict[str, RGB] = {
    "hills": (78, 140, 62), "forest": (38, 98, 52), "desert": (218, 172, 102),
    "sea": (25, 85, 145), "snow": (232, 238, 248), "mountain": (112, 116, 142),
}  # fmt: skip


@dataclass(frozen=True)
class Scene:
    """What the picture shows, read from the prompt; ``seed`` drives everything else."""

    time: str  # "day" | "sunrise" | "sunset" | "night"
    ground: str  # "sea" | "desert" | "hills" | "forest"
    weather: str | None  # "storm" | "snow" | None
    colour: str | None  # a key of ACCENTS
    features: frozenset[str]  # of FEATURE_ORDER
    seed: int


def scene_for_prompt(prompt: str) -> Scene:
    """Read the scene from the prompt's words; what the words leave open, the hash decides."""
    norm = normalise_prompt(prompt)
    words = set(norm.split())
    seed = int.from_bytes(hashlib.sha256(norm.encode()).digest()[:8], "big")
    rng = random.Random(seed)

    def first(group: str) -> str | None:
        return next((v for v, ws in VOCABULARY[group].items() if words & ws), None)

    features = {v for v, ws in VOCABULARY["feature"].items() if words & ws}
    wet = "sea" if "lighthouse" in features else None
    ground = first("ground") or wet or rng.choice(["sea", "hills", "forest"])
    time = first("time") or rng.choice(["day", "sunrise", "sunset", "night"])
    return Scene(time, ground, first("weather"), first("colour"), frozenset(features), seed)


def describe(scene: Scene) -> str:
    """The caption: what was drawn, in plain words."""
    mood = {"storm": "stormy ", "snow": "snowy "}.get(scene.weather or "", "")
    where = {"sea": "the sea", "desert": "desert dunes", "hills": "rolling hills"}
    things = [{"mountains": f}.get(f, "a " + f) for f in FEATURE_ORDER if f in scene.features]
    text = f"A procedural {mood}{scene.time} over {where.get(scene.ground, 'a forest')}"
    if things:
        text += " with " + (", ".join(things[:-1]) + " and " if things[1:] else "") + things[-1]
    if scene.colour:
        text += f", in shades of {scene.colour}"
    return text + ", generated from the words of the prompt"


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    """``a`` moved a fraction ``t`` towards ``b``; ``_mix(BLACK, c, k)`` scales ``c`` by ``k``."""
    r, g, bl = (max(0, min(255, round(x + (y - x) * t))) for x, y in zip(a, b, strict=True))
    return (r, g, bl)


def _box(x: float, y: float, rx: float, ry: float = 0.0) -> list[float]:
    return [x - rx, y - (ry or rx), x + rx, y + (ry or rx)]


def _gradient(size: tuple[int, int], span: int, stops: list[tuple[float, RGB]]) -> Image.Image:
    """A vertical gradient through ``stops`` over the first ``span`` rows, flat below."""

    def at(t: float) -> RGB:
        for (t0, c0), (t1, c1) in itertools.pairwise(stops):
            if t <= t1:
                return _mix(c0, c1, (t - t0) / (t1 - t0) if t1 > t0 else 0.0)
        return stops[-1][1]

    column = Image.new("RGB", (1, size[1]))
    column.putdata([at(min(1.0, y / max(1, span))) for y in range(size[1])])
    return column.resize(size, Image.Resampling.NEAREST)


def _soft(layer: Image.Image, radius: float) -> Image.Image:
    """Blur a transparent layer cheaply: premultiplied, at a quarter of the size."""
    small = layer.convert("RGBa").reduce(4).filter(ImageFilter.GaussianBlur(radius / 4))
    return small.convert("RGBA").resize(layer.size, Image.Resampling.BILINEAR)


BLACK, WHITE = (0, 0, 0), (255, 255, 255)
WAVES = ((1.0, 0.6), (2.7, 0.3), (6.1, 0.1))  # relative frequency, amplitude of a ridge's waves


class _Canvas:
    """One painting in progress, at ``ss`` times the asked size (shrunk at the end)."""

    def __init__(self, scene: Scene, width: int, height: int) -> None:
        self.scene, self.ss = scene, 2 if max(width, height) <= 1024 else 1
        self.w, self.h = width * self.ss, height * self.ss
        self.unit = min(self.w, self.h)
        self.rng = rng = random.Random(scene.seed)
        self.night, self.storm = scene.time == "night", scene.weather == "storm"
        tints = list(ACCENTS.values())  # a small shift of hue, different for each prompt
        self.sky = [(t, _mix(c, rng.choice(tints), 0.1)) for t, c in SKY[scene.time]]
        self.accent = ACCENTS.get(scene.colour or "")
        if self.accent is not None:
            self.sky = [(t, _mix(c, self.accent, 0.25 + 0.3 * t)) for t, c in self.sky]
        self.sun, self.cloud = TIME_STYLE[scene.time][3:]
        if self.storm:
            grey = (22, 24, 34) if self.night else (62, 66, 78)
            self.sky = [(t, _mix(c, grey, 0.65)) for t, c in self.sky]
        self.horizon = hz = round(self.h * rng.uniform(0.56, 0.66))
        self.image = _gradient((self.w, self.h), hz, self.sky).convert("RGBA")
        self.draw = ImageDraw.Draw(self.image)
        self.glow = Image.new("RGBA", self.image.size)  # transparent: light drawn here is blurred
        self.haze = self.sky[-1][1]  # the sky at the horizon, for far things
        self.side = rng.choice([0.16, 0.82])  # where the lighthouse, else the tree, stands
        height_on_sky = {"day": 0.2, "sunrise": 0.72, "sunset": 0.68, "night": 0.22}[scene.time]
        self.body = (self.w * rng.uniform(0.22, 0.78), hz * height_on_sky)
        self.body_r = self.unit * rng.uniform(0.05, 0.08)

    def lit(self, colour: RGB, k: float = 1.0) -> RGB:
        """``colour`` as the light of this time of day (and storm) shows it, scaled by ``k``."""
        brightness, tint, amount = TIME_STYLE[self.scene.time][:3]
        if self.storm:
            brightness, tint, amount = brightness * 0.7, (60, 64, 80), 0.4
        return _mix(BLACK, _mix(colour, tint, amount), brightness * k)

    def sky_things(self) -> None:
        rng, (bx, by), br, draw = self.rng, self.body, self.body_r, self.draw
        w, h, hz = self.w, self.h, self.horizon
        stars = self.w * self.h // 2600 // self.ss**2 if self.night and not self.storm else 0
        for _ in range(stars):
            x, y = rng.uniform(0, self.w), rng.uniform(0, self.horizon * 0.95)
            v = rng.randint(150, 255)
            draw.ellipse(_box(x, y, rng.choice([0.5, 1, 1, 1.6]) * self.ss), fill=(v, v, v))
        if not self.storm:
            halo = Image.new("RGBA", self.image.size)
            ImageDraw.Draw(halo).ellipse(_box(bx, by, br * 2.6), fill=(*self.sun, 110))
            self.image.alpha_composite(_soft(halo, br))
            draw.ellipse(_box(bx, by, br), fill=self.sun)
        clouds = Image.new("RGBA", self.image.size)
        fill = (58, 60, 70, 235) if self.storm else (*self.cloud, 190)
        for _ in range(rng.randint(7, 10) if self.storm else rng.randint(1, 4)):
            cx, cy = rng.uniform(-0.1, 1.1) * w, rng.uniform(0.05, 0.45) * hz
            for _ in range(rng.randint(4, 7)):
                ex, ey = cx + rng.uniform(-0.12, 0.12) * w, cy + rng.uniform(-0.04, 0.04) * h
                rx, ry = rng.uniform(0.05, 0.12) * w, rng.uniform(0.025, 0.05) * h
                ImageDraw.Draw(clouds).ellipse(_box(ex, ey, rx, ry), fill=fill)
        self.image.alpha_composite(_soft(clouds, self.unit * 0.012))
        if self.storm:  # one bolt of lightning
            bolt = [(w * rng.uniform(0.3, 0.7), hz * 0.3)]
            while bolt[-1][1] < hz * 0.9:
                x, y = bolt[-1]
                bolt.append((x + rng.uniform(-0.04, 0.04) * w, y + rng.uniform(0.05, 0.1) * hz))
            ImageDraw.Draw(self.glow).line(bolt, fill=(200, 210, 255, 160), width=self.unit // 40)
            draw.line(bolt, fill=(245, 245, 255), width=max(1, self.unit // 200))

    def mountains(self) -> None:
        rng, hz, unit = self.rng, self.horizon, self.unit
        peaks = [(0.0, hz - unit * rng.uniform(0.05, 0.15))]
        while peaks[-1][0] < self.w:
            rise = rng.uniform(0.22, 0.42) if len(peaks) % 2 else rng.uniform(0.06, 0.15)
            peaks.append((peaks[-1][0] + rng.uniform(0.08, 0.2) * self.w, hz - unit * rise))
        rock = _mix(self.lit(LAND["mountain"]), self.haze, 0.3)
        self.draw.polygon([(0, hz + 1), *peaks, (self.w, hz + 1)], fill=rock)
        for (lx, ly), (px, py), (rx, ry) in zip(peaks[::2], peaks[1::2], peaks[2::2], strict=False):
            left = (px + 0.3 * (lx - px), py + 0.3 * (ly - py))
            right = (px + 0.3 * (rx - px), py + 0.3 * (ry - py))
            notch = ((left[0] + right[0]) / 2, max(left[1], right[1]) - (right[1] - py) * 0.15)
            self.draw.polygon([left, (px, py), right, notch], fill=self.lit((240, 244, 250)))

    def sea(self) -> None:
        rng, w, h, hz, ss = self.rng, self.w, self.h, self.horizon, self.ss
        top = _mix(self.lit(_mix(LAND["sea"], self.accent or LAND["sea"], 0.3)), self.haze, 0.35)
        water = _gradient((w, h - hz), h - hz, [(0, top), (1, _mix(BLACK, top, 0.55))])
        self.image.paste(water, (0, hz))
        foam = _mix(top, WHITE, 0.25)
        for _ in range(w * (h - hz) // 1800 // ss**2):
            depth = rng.random() ** 1.6
            x, y, length = rng.uniform(0, w), hz + (h - hz) * depth, self.unit * 0.07 * depth
            self.draw.line([(x, y), (x + length, y)], fill=foam, width=round(ss * (1 + 2 * depth)))
        bx, path = self.body[0], _mix(foam, self.sun, 0.7)
        for i in range(0 if self.storm else 60):  # the sun's or the moon's path on the water
            y, half = hz + (h - hz) * i / 60, self.body_r * (0.4 + i / 40) * rng.uniform(0.3, 1)
            self.draw.line([(bx - half, y), (bx + half, y)], fill=path, width=ss)

    def land(self) -> None:
        rng, w, h, hz, scene = self.rng, self.w, self.h, self.horizon, self.scene
        base = LAND["snow" if scene.weather == "snow" else scene.ground]
        base = _mix(base, self.accent or base, 0.3)
        amp = {"desert": 0.08, "forest": 0.14, "hills": 0.16}[scene.ground] * self.unit
        for layer in range(3):
            waves = [(rng.uniform(0.6, 1.4) * f, rng.uniform(0, 7), a) for f, a in WAVES]
            y0 = hz + layer * 0.13 * (h - hz) + amp * 0.4
            heights = [sum(a * math.sin(f * i / 15 + p) for f, p, a in waves) for i in range(97)]
            ridge = [(w * i / 96, y0 - amp * (0.5 + 0.5 * v)) for i, v in enumerate(heights)]
            colour = _mix(self.lit(base, 0.85 + 0.12 * layer), self.haze, 0.45 - 0.2 * layer)
            self.draw.polygon([(0, h), *ridge, (w, h)], fill=colour)
            x = rng.uniform(0, 0.03) * w
            while scene.ground == "forest" and x < w:
                y = ridge[min(96, round(96 * x / w))][1] + self.unit * 0.01
                size = self.unit * (0.05 + 0.04 * layer) * rng.uniform(0.7, 1.3)
                self.conifer(x, y, size, _mix(BLACK, colour, 0.75))
                x += rng.uniform(0.015, 0.04) * w * (1 + layer)

    def conifer(self, x: float, y: float, size: float, colour: RGB) -> None:
        for k in range(3):
            top, low = y - size * (1 - 0.22 * k), y - size * 0.15 * (2 - k)
            half = size * (0.18 + 0.07 * k)
            self.draw.polygon([(x, top), (x - half, low), (x + half, low)], fill=colour)
        trunk = _box(x, y - size * 0.06, size * 0.03, size * 0.06)
        self.draw.rectangle(trunk, fill=_mix(BLACK, colour, 0.7))

    def lighthouse(self) -> None:
        w, h, hz, unit, draw = self.w, self.h, self.horizon, self.unit, self.draw
        at_sea = self.scene.ground == "sea"
        x, base = w * self.side, (hz + (h - hz) * 0.55) if at_sea else h * 0.9
        tall = (base - hz) + unit * 0.22 if at_sea else unit * 0.42
        bw, tw, top = unit * 0.05, unit * 0.032, base - tall
        draw.ellipse(_box(x, base + bw * 0.3, bw * 2.6, bw * 0.9), fill=self.lit((70, 64, 60)))
        for band in range(5):
            y0, y1 = base - tall * band / 5, base - tall * (band + 1) / 5
            hw0, hw1 = bw + (tw - bw) * band / 5, bw + (tw - bw) * (band + 1) / 5
            fill = self.lit((242, 240, 235) if band % 2 == 0 else (200, 40, 45))
            draw.polygon([(x - hw0, y0), (x + hw0, y0), (x + hw1, y1), (x - hw1, y1)], fill=fill)
        lamp_on = self.scene.time in ("night", "sunset") or self.storm
        lamp = (255, 236, 150) if lamp_on else self.lit((190, 210, 220))
        draw.rectangle(_box(x, top - tw * 0.12, tw * 1.4, tw * 0.13), fill=self.lit((40, 40, 45)))
        draw.rectangle(_box(x, top - tw * 0.87, tw * 0.8, tw * 0.62), fill=lamp)
        roof = [(x - tw, top - tw * 1.5), (x + tw, top - tw * 1.5), (x, top - tw * 2.4)]
        draw.polygon(roof, fill=self.lit((150, 30, 35)))
        if lamp_on:  # the beam, towards the middle of the picture
            y, far = top - tw * 0.9, x + w * 0.55 * (1 if self.side < 0.5 else -1)
            beam = [(x, y - tw), (far, y - unit * 0.09), (far, y + unit * 0.05), (x, y + tw)]
            ImageDraw.Draw(self.glow).polygon(beam, fill=(255, 240, 170, 90))
            ImageDraw.Draw(self.glow).ellipse(_box(x, y, tw * 3), fill=(255, 236, 150, 120))

    def tree(self) -> None:
        scene, rng, w, h = self.scene, self.rng, self.w, self.h
        side = 1 - self.side if "lighthouse" in scene.features else self.side
        if scene.ground == "sea":  # a bit of shore to stand on
            shore = _mix(LAND["hills"], LAND["snow"], 0.8 if scene.weather == "snow" else 0)
            self.draw.ellipse(_box(w * side, h * 1.03, w * 0.35, h * 0.21), fill=self.lit(shore))
        x, y, size = w * side + rng.uniform(-0.05, 0.05) * w, h * 0.93, self.unit * 0.4
        leaf = self.lit(_mix((45, 120, 55), self.accent or (45, 120, 55), 0.3))
        if scene.ground == "forest" or "mountains" in scene.features or scene.weather == "snow":
            self.conifer(x, y, size * 1.05, leaf)
            return
        trunk = _box(x, y - size * 0.27, size * 0.05, size * 0.28)
        self.draw.rectangle(trunk, fill=self.lit((92, 62, 40)))
        for _ in range(7):
            cx, cy = x + rng.uniform(-0.22, 0.22) * size, y - size * rng.uniform(0.6, 0.9)
            r = size * rng.uniform(0.16, 0.26)
            self.draw.ellipse(_box(cx, cy, r), fill=_mix(BLACK, leaf, rng.uniform(0.85, 1.1)))

    def rain_or_snow(self) -> None:
        layer, rng, unit, ss = Image.new("RGBA", self.image.size), self.rng, self.unit, self.ss
        draw = ImageDraw.Draw(layer)
        for _ in range(self.w * self.h // 900 // ss**2):
            x, y = rng.uniform(0, self.w), rng.uniform(0, self.h)
            if self.storm:
                streak = [(x, y), (x - unit * 0.01, y + unit * 0.04)]
                draw.line(streak, fill=(200, 210, 230, 90), width=ss)
            else:
                draw.ellipse(_box(x, y, rng.uniform(0.6, 2.0) * ss), fill=(255, 255, 255, 200))
        self.image.alpha_composite(layer)

    def paint(self) -> Image.Image:
        scene = self.scene
        self.sky_things()
        if "mountains" in scene.features:
            self.mountains()
        self.sea() if scene.ground == "sea" else self.land()
        if "lighthouse" in scene.features:
            self.lighthouse()
        if "tree" in scene.features:
            self.tree()
        self.image.alpha_composite(_soft(self.glow, self.unit * 0.01))
        if scene.weather is not None:
            self.rain_or_snow()
        return self.image.convert("RGB")


def render(prompt: str, width: int, height: int) -> tuple[bytes, str]:
    """Paint the prompt's scene as PNG bytes (sides clamped to 64..1536) and say what it shows."""
    scene = scene_for_prompt(prompt)
    width, height = (max(MIN_SIDE, min(MAX_SIDE, int(side))) for side in (width, height))
    image = _Canvas(scene, width, height).paint()
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    caption = describe(scene)
    missing = unpaintable(prompt)
    if missing:
        named = ", ".join(f"“{w}”" for w in missing[:5])
        caption += (
            f". I could not draw {named}: this offline painter only paints landscapes (sky,"
            " sea, hills, desert, forest, mountains, a lighthouse, a tree)"
        )
    return buffer.getvalue(), caption
