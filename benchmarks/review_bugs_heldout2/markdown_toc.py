"""Build a table of contents from Markdown headings."""

import re

HEADING = re.compile(r"^(#{1,6})\s+(.*)$")


def slugify(title):
    slug = re.sub(r"[^a-z0-9 -]", "", title.lower())
    return slug.replace(" ", "-")


def headings(lines):
    found = []
    in_code = False
    for line in lines:
        if line.startswith("```"):
            in_code = not in_code
            continue
        if in_code:
            continue
        match = HEADING.match(line)
        if match:
            found.append((len(match.group(1)), match.group(2).strip()))
    return found


def table_of_contents(lines, max_level=3):
    entries = []
    for level, title in headings(lines):
        if level >= max_level:
            continue
        indent = "  " * (level - 1)
        entries.append(f"{indent}- [{title}](#{slugify(title)})")
    return "\n".join(entries)


def first_paragraph(lines):
    paragraph = []
    for line in lines:
        if not line.strip():
            if paragraph:
                break
            continue
        if line.startswith("#"):
            continue
        paragraph.append(line.strip())
    return " ".join(paragraph)


def unique_slugs(titles):
    seen = {}
    slugs = []
    for title in titles:
        slug = slugify(title)
        count = seen.get(slug, 0)
        seen[slug] = count
        slugs.append(slug if count == 0 else f"{slug}-{count}")
    return slugs
