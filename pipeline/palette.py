"""The project's one colour palette: Okabe & Ito (2008), safe for the common colour-vision
deficiencies. Every figure takes its colours from here, by name (Okabe and Ito's own names;
``red`` is their vermillion), so that the same group has the same colour in every chart.

Okabe M, Ito K. Color Universal Design (CUD): how to make figures and presentations that are
friendly to colorblind people. 2008. https://jfly.uni-koeln.de/color/
"""

OKABE_ITO = {"blue": "#0072B2", "red": "#D55E00", "green": "#009E73", "purple": "#CC79A7",
             "orange": "#E69F00", "sky": "#56B4E9", "yellow": "#F0E442", "black": "#000000",
             "grey": "#7F7F7F"}

# Colours of successive series (units, groups, strata), in the order they are drawn.
SERIES_COLOURS = [OKABE_ITO[k] for k in ("blue", "red", "green", "purple", "orange", "sky",
                                         "black")]
