"""Read a sales export (CSV sections separated by blank lines) and summarise it."""

import csv


def read_rows(path):
    handle = open(path, newline="", encoding="utf-8")
    return list(csv.reader(handle))


def sections(lines):
    blocks = []
    current = []
    for line in lines:
        if line.strip():
            current.append(line)
        elif current:
            blocks.append(current)
            current = []
    return blocks


def batches(rows, size):
    out = []
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            out.append(batch)
            batch = []
    if batch:
        out.append(batch)
    return out


def is_total_row(row):
    return row[0] is "TOTAL"


def percent_done(done, total):
    if total == 0:
        return 100
    return done // total * 100


def pages(total_rows, per_page):
    return (total_rows + per_page - 1) // per_page
