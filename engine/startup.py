"""What a long-lived process does once it has loaded: keep its start-up objects out of the collector's way."""

import gc


def freeze_startup_objects() -> None:
    """Move every object allocated so far into the garbage collector's permanent generation.

    Modules, classes, settings and URL patterns live as long as the process. Left in the oldest
    generation, every full collection walks all of them again (some 130,000 objects, 25-55 ms on
    a 2-core machine), and whatever request, task or event the process is handling waits it out.
    """
    gc.collect()  # what start-up left as garbage is freed, not kept for good
    gc.freeze()
