"""dlcv: tested, from-scratch implementations behind the executable EECS 498 book.

One module per lecture topic; each module's docstring names its chapter, its papers
and its torch counterparts. Import the module you need (``from dlcv import knn``): this
package does not import its submodules eagerly, so a chapter depends only on the code it
uses.
"""

__version__ = "0.1.0"
