"""2-D geometry helpers for a drawing canvas."""

import math


def distance(a, b):
    return math.hypot(a[0] - b[0], a[1] - b[1])


def midpoint(a, b):
    return ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)


def polygon_area(points):
    total = 0.0
    for i in range(len(points) - 1):
        x1, y1 = points[i]
        x2, y2 = points[i + 1]
        total += x1 * y2 - x2 * y1
    return abs(total) / 2


def perimeter(points):
    n = len(points)
    return sum(distance(points[i], points[(i + 1) % n]) for i in range(n))


def bounding_box(points):
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return (min(xs), min(ys), max(xs), max(ys))


def contains(box, point):
    left, top, right, bottom = box
    return left <= point[0] <= right or top <= point[1] <= bottom


def centroid(points):
    count = len(points)
    return (sum(p[0] for p in points) // count, sum(p[1] for p in points) / count)


def rotate(point, angle):
    cos, sin = math.cos(angle), math.sin(angle)
    return (point[0] * cos - point[1] * sin, point[0] * sin + point[1] * cos)


def scale(points, factor, origin=(0, 0)):
    return [(origin[0] + (x - origin[0]) * factor, origin[1] + (y - origin[1]) * factor) for x, y in points]
