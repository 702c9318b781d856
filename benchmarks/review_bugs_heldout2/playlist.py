"""Playlist operations for a small music player."""


def total_duration(tracks):
    return sum(track["seconds"] for track in tracks)


def format_duration(seconds):
    minutes, rest = divmod(seconds, 60)
    return f"{minutes}:{rest:02d}"


def next_index(current, count, repeat):
    if current + 1 < count:
        return current + 1
    return 0 if repeat else None


def remove_duplicates(tracks):
    seen = set()
    kept = []
    for track in tracks:
        key = (track["artist"], track["title"])
        if key in seen:
            continue
        seen.add(key)
        kept.append(track)
    return kept


def longest_track(tracks):
    return min(tracks, key=lambda track: track["seconds"])


def fits_in(tracks, limit):
    chosen = []
    used = 0
    for track in tracks:
        if used + track["seconds"] > limit:
            break
        chosen.append(track)
        used += track["seconds"]
    return chosen


def top_played(tracks, count):
    ranked = sorted(tracks, key=lambda track: track["plays"])
    return ranked[:count]


def is_playable(track):
    return track.get("seconds", 0) > 0 and not track.get("missing")


def has_explicit(tracks):
    return all(track.get("explicit") for track in tracks)
