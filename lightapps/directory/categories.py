"""Shop categories as shoppers read them: one group per kind of shop, named in the page's language.

A map's shops carry the category their source gave them: the demo mall's (cafe, books...), the mall
generator's zone kinds (fingerprints/mallgen.py: shop, anchor, kiosk, stall, food, restaurant, cinema,
parking), IMDF occupant categories (fingerprints/imdf/schema.py OCCUPANT_CATEGORIES: chinese.dimsum,
clothing.mens, ...) or ours written back by an IMDF export. Many name the same kind of shop, so each belongs
to a group (`group_of`), and the directory shows, filters and searches by group. A category in no group
(an operator's own word) reads as the generic "Shops", never as its raw key."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from fingerprints.imdf.schema import by_dotted_base

GENERIC = "shop"

GROUP_LABELS = {
    "shop": _l("Shops"), "anchor": _l("Department stores"), "kiosk": _l("Kiosks"), "food": _l("Food court"),
    "restaurant": _l("Restaurants"), "cafe": _l("Cafés"), "desserts": _l("Desserts"), "bar": _l("Bars"),
    "grocery": _l("Grocery"), "fashion": _l("Fashion"), "jewellery": _l("Jewellery"), "beauty": _l("Beauty"),
    "electronics": _l("Electronics"), "books": _l("Books"), "home": _l("Home"), "kids": _l("Kids"),
    "sports": _l("Sports"), "entertainment": _l("Entertainment"), "cinema": _l("Cinema"), "health": _l("Health"),
    "services": _l("Services"), "gifts": _l("Gifts"), "pets": _l("Pets"), "parking": _l("Parking"),
}

# group -> the categories in it besides the group's own key (IMDF occupant categories and the generator's).
# A dotted IMDF category not listed takes its base's group (chinese.hunan -> chinese -> restaurant).
_MEMBERS = {
    "shop": "shopping adultstore tobaccoshop",
    "anchor": "departmentstore discountstore outletstore dutyfree",
    "food": "stall foodcourt foodstand kiosk.food",
    "restaurant": "bistro buffet burgers cafeteria canteen chinese dimsum dumplings fastfood hotpot indian italian "
                  "japanese korean malaysian noodles pizza salad sandwiches seafood singaporean steak sushi "
                  "taiwanese thai vegan vegetarian vietnamese",
    "cafe": "coffee coffee.tea tea bubbletea juicebar",
    "desserts": "bagels bakedgoods cakes candy chocolate desserts donuts gelato icecream",
    "bar": "cocktailbar sportsbar",
    "grocery": "grocerystore supermarket conveniencestore butcher cheese frozenfoods fruitandvegetables "
               "gourmetfood healthyfoods beerwineandspirits",
    "fashion": "clothing formalwear lingerie maternitywear swimwear vintageclothing hats fashionaccessories "
               "accessories leathergoods luggage costumes shoes shoestore",
    "jewellery": "jewelry watches",
    "beauty": "beautysalon beautyspas cosmetics eyelashes manicurists perfume skincare haircutsstyling barber "
              "massagetherapy",
    "electronics": "audiovideoequipment cellphoneaccessories computersandaccessories electronicappliances "
                   "appliances mobilephones videogamesandconsoles photographystore",
    "books": "bookstore comicbooks cards.stationery stationery artsupplies",
    "home": "furniture furniturestore homedecor hardware florist flowers antiques",
    "kids": "toys toystore babyclothesandsupplies",
    "sports": "sportinggoods sportswear outdoorgear gym fitnessinstruction climbing",
    "entertainment": "arcade bowlingalley escapegame eventspace familyfuncenter karaoke kidsactivities playcenter "
                     "playground artgallery internetcafe",
    "cinema": "theater.movie",
    "health": "pharmacy clinic dentistry medicalcenter optometry opticians eyewear.opticians",
    "services": "bank atm currencyexchange drycleaning laundryservices electronicsrepair mobilephonerepair "
                "shoerepair watchrepair postoffice travelagent carrental photography tickets tutoring education "
                "languageschool danceschool",
    "gifts": "giftshops souvenirs artsandcrafts musicalinstruments hobbyshop",
    "pets": "petstore",
}
GROUP_OF = {category: group for group, words in _MEMBERS.items() for category in words.split()} | {
    group: group for group in GROUP_LABELS}


# The headings of the facilities a search lists (lightapps/directory/search.py search_facilities): restroom zones and
# the amenity points of each kind fingerprints.imdf.schema.AMENITY_KINDS imports, in the order they are listed.
FACILITY_LABELS = {
    "restroom": _l("Restrooms"), "information": _l("Information desks"), "atm": _l("ATMs"),
    "babycare": _l("Baby care rooms"), "firstaid": _l("First aid"), "defibrillator": _l("Defibrillators (AED)"),
    "wheelchair": _l("Wheelchair service"), "stroller": _l("Stroller rental"), "lockers": _l("Lockers"),
    "drinkingfountain": _l("Drinking water"), "charging": _l("Phone charging"),
    "vendingmachine": _l("Vending machines"), "lostandfound": _l("Lost and found"), "prayerroom": _l("Prayer rooms"),
    "playarea": _l("Children's play areas"), "smokingarea": _l("Smoking areas"), "taxi": _l("Taxis"),
    "security": _l("Security"),
}


def group_of(category: str) -> str:
    """The group a category belongs to: its own entry, else its nearest listed dotted base, else GENERIC."""
    return by_dotted_base(GROUP_OF, category) or GENERIC


def category_label(category: str) -> str:
    """What shoppers read for a shop's category (or a group's key), in the page's language."""
    return str(GROUP_LABELS[group_of(category)])
