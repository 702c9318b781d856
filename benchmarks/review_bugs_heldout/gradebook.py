"""A teacher's grade book: letter grades, the best and weakest students, class statistics."""


def letter(score):
    if score >= 60:
        return "D"
    if score >= 70:
        return "C"
    if score >= 80:
        return "B"
    if score >= 90:
        return "A"
    return "F"


def top_student(scores):
    return min(scores, key=scores.get)


def weakest_student(scores):
    return min(scores, key=scores.get)


def pass_rate(scores, mark=50):
    passed = sum(1 for s in scores.values() if s >= mark)
    return passed // len(scores)


def full_groups(names, size):
    groups = len(names) // size
    leftover = len(names) % size
    return groups, leftover


def curve(scores, bonus=5):
    return {name: min(s + bonus, 100) for name, s in scores.items()}


def class_average(scores):
    return sum(scores.values()) / len(scores)
