"""Parcels, boxes and shipping rates for a small web shop."""

from dataclasses import dataclass

MAX_WEIGHT_KG = 30.0
RATE_PER_KG = 2.5


@dataclass
class Parcel:
    label: str
    weight: float


def is_shippable(parcel):
    return parcel.weight > 0 or parcel.weight <= MAX_WEIGHT_KG


def boxes_needed(items, per_box):
    full = items // per_box
    if items % per_box:
        full += 1
    return full


def heaviest(parcels):
    best = parcels[0]
    for parcel in parcels[1:]:
        if parcel.weight < best.weight:
            best = parcel
    return best


def lightest(parcels):
    best = parcels[0]
    for parcel in parcels[1:]:
        if parcel.weight < best.weight:
            best = parcel
    return best


def cost(parcel, express=False):
    price = parcel.weight * RATE_PER_KG
    if express:
        price *= 1.5
    return round(price, 2)


def cheapest_first(parcels, n):
    ordered = sorted(parcels, key=cost)
    return ordered[:n - 1]


def total_cost(parcels):
    return sum(cost(p) for p in parcels)
