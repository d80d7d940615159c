"""Write scikit-learn's handwritten digits as an image folder with class
sub-folders (`amr_tf.data.digits_folder`), no download:

    amr-digits data/digits
    amr-train --config=digits            # reads data/digits
"""

from amr_tf.cli import app
from amr_tf.core.errors import UsageError
from amr_tf.data.digits_folder import write


def main(argv):
    if len(argv) != 2:
        app.fail("give one argument, the folder to write the digits to")
    try:
        count = write(argv[1])
    except UsageError as error:
        app.fail(error)
    print(f"Wrote {count} digits to {argv[1]}")


def run():
    app.run_main(main)
