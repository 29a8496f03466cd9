"""IMDF 1.0.0 as we check it: category lists, geometry types, required properties, the file names of
the archive and of our extension, ImdfError. The plan <-> lon/lat projection (Origin) is fingerprints/georef.py."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TypeVar

from core.errors import N_, CatalogProblems

T = TypeVar("T")

IMDF_VERSION = "1.0.0"
EXTENSION = "mallportal"
MAX_ZIP_BYTES = 256 * 1024 * 1024  # uncompressed; refuse zip bombs
MAX_ZIP_MEMBERS = 200

# -- the IMDF 1.0.0 category lists we check against ---------------------------------------------------


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


VENUE_CATEGORIES = _words("""
airport airport.intl aquarium businesscampus casino communitycenter conventioncenter governmentfacility
healthcarefacility hotel museum parkingfacility resort retailstore shoppingcenter stadium stripmall theater
themepark trainstation transitstation university
""")

LEVEL_CATEGORIES = _words("""
arrivals arrivals.domestic arrivals.intl departures departures.domestic departures.intl parking transit
unspecified
""")

UNIT_CATEGORIES = _words("""
auditorium brick classroom column concrete conferenceroom drywall elevator escalator fieldofplay firstaid
fitnessroom foodservice footbridge glass huddleroom kitchen laboratory library lobby lounge mailroom
mothersroom movietheater movingwalkway nonpublic office opentobelow parking phoneroom platform privatelounge
ramp recreation restroom restroom.family restroom.female restroom.female.wheelchair restroom.male
restroom.male.wheelchair restroom.transgender restroom.transgender.wheelchair restroom.unisex
restroom.unisex.wheelchair restroom.wheelchair road room serverroom shower smokingarea stairs steps storage
structure terrace theater unenclosedarea unspecified vegetation waitingroom walkway walkway.island wood
""")

OPENING_CATEGORIES = _words("""
automobile bicycle emergencyexit pedestrian pedestrian.principal pedestrian.transit service
""")

AMENITY_CATEGORIES = _words("""
amphitheater animalreliefarea arrivalgate atm babychanging baggagecarousel baggagecarousel.intl baggagecarts
baggageclaim baggageclaim.oversize baggagerecheck baggagestorage boardinggate boardinggate.aircraft
boardinggate.bus boardinggate.ferry boardinggate.train bus bus.muni bus.national businesscenter cabin
caregiver carrental cashier changemachine checkin checkin.desk checkin.desk.oversizebaggage
checkin.desk.transfer checkin.selfservice childplayarea coinlocker copymachine defibrillator drinkingfountain
eatingdrinking elevator emergencyshelter entry escalator exhibit faregate faregate.oversized fieldofplay
fieldofplay.americanfootball fieldofplay.baseball fieldofplay.basketball fieldofplay.fieldhockey
fieldofplay.icehockey fieldofplay.rugby fieldofplay.soccer fieldofplay.softball fieldofplay.tennis
fieldofplay.trackfield fieldofplay.volleyball firealarmpullstation fireextinguisher firstaid fittingroom
foodservice gatearea groundtransportation guestservices handsanitizerstation healthscreening hoteling
immigration information information.bid information.carrental information.hotel information.mufid
information.mufid.arrivals information.mufid.departures information.transit landmark library limo lostandfound
mailbox meditation meetingpoint mobilityrescue mothersroom movingwalkway paidarea parkandride parking
parking.bicycle parking.compact parking.ev parking.longterm parking.motorcycle parking.shortterm
parking.waitingarea payphone pedestriancrossing peoplemover phone phone.emergency photobooth platform police
powerchargingstation prayerroom prayerroom.buddhism prayerroom.christianity prayerroom.hinduism
prayerroom.islam prayerroom.islam.female prayerroom.islam.male prayerroom.judaism prayerroom.shintoism
prayerroom.sikh prayerroom.taoic privatelounge productreturn rail.muni rail.national ramp reception.desk
recreation restroom restroom.family restroom.female restroom.female.wheelchair restroom.male
restroom.male.wheelchair restroom.transgender restroom.transgender.wheelchair restroom.unisex
restroom.unisex.wheelchair restroom.wheelchair rideshare seat seating security security.checkpoint
security.inspection service shower shuttle sleepbox smokingarea stairs storage strollerrental
studentadmissions studentservices swimmingpool swimmingpool.children swimmingpool.family taxi ticketing
ticketing.airline ticketing.bus ticketing.bus.muni ticketing.bus.national ticketing.rail ticketing.rail.muni
ticketing.rail.national ticketing.shuttle traintrack transit unspecified valet vendingmachine
vendingmachine.trainticket wheelchairassist wifi yoga
""")

# How IMDF spells every category: lowercase ASCII words (digits allowed: "3dprinting") joined by dots, each dot a
# step down the category's tree ("restroom.female.wheelchair").
CATEGORY_RE = re.compile(r"[a-z0-9]+(?:\.[a-z0-9]+)*\Z")

RELATIONSHIP_CATEGORIES = _words("elevator escalator movingwalkway ramp stairs traversal traversal.path")
RELATIONSHIP_DIRECTIONS = ("directed", "undirected")

# IMDF's occupant list has over a thousand entries (cuisines, trades, services: lawyer, acai, dentistry.general).
# We carry the part a shopping mall uses; any other well-formed category (CATEGORY_RE) is read all the same - its
# zone kind and directory group are its nearest listed ancestor's (haircutsstyling.mens -> haircutsstyling), else a
# shop's - and the import notes those it does not list (validate._Checker), never refuses them.
OCCUPANT_CATEGORIES = _words("""
accessories adultstore antiques appliances arcade artgallery artsandcrafts artsupplies atm audiovideoequipment
babyclothesandsupplies bagels bakedgoods bank bar barber beautysalon beautyspas beerwineandspirits bistro
books bookstore bowlingalley bubbletea buffet burgers butcher cafe cafeteria cakes candy canteen
cards.stationery carrental cellphoneaccessories cheese chinese chinese.cantonese chinese.dimsum chinese.hunan
chinese.shanghainese chinese.szechuan chocolate cinema climbing clinic clothing clothing.childrens
clothing.mens clothing.plussize clothing.womens cocktailbar coffee coffee.tea comicbooks
computersandaccessories conveniencestore cosmetics costumes currencyexchange danceschool dentistry
departmentstore desserts dimsum discountstore donuts drycleaning dumplings dutyfree education
electronicappliances electronicsrepair escapegame eventspace eyelashes eyewear.opticians familyfuncenter
fashion fashionaccessories fastfood fitnessinstruction florist flowers foodcourt foodstand formalwear
frozenfoods fruitandvegetables furniture furniturestore gelato giftshops gourmetfood grocery grocerystore gym
haircutsstyling hardware hats healthyfoods hobbyshop homedecor hotpot icecream indian internetcafe italian
japanese japanese.ramen jewelry juicebar karaoke kidsactivities kiosk kiosk.food korean languageschool
laundryservices leathergoods lingerie luggage malaysian manicurists massagetherapy maternitywear medicalcenter
mobilephonerepair mobilephones musicalinstruments noodles opticians optometry outdoorgear outletstore parking
perfume pets petstore pharmacy photography photographystore pizza playcenter playground postoffice restaurant
salad sandwiches seafood shoerepair shoes shoestore shopping singaporean skincare souvenirs sportinggoods
sportsbar sportswear stationery steak supermarket sushi swimwear taiwanese tea thai theater.movie tickets
tobaccoshop toys toystore travelagent tutoring vegan vegetarian videogamesandconsoles vietnamese
vintageclothing watches watchrepair
""")

UNIT_CATEGORY_FOR_KIND = {
    "garage": "parking", "parking": "parking", "cinema": "movietheater", "theater": "theater",
    "food": "foodservice", "restaurant": "foodservice", "atrium": "unenclosedarea", "walkway": "walkway",
    "office": "office", "restroom": "restroom", "shop": "room", "corridor": "walkway", "service": "nonpublic",
}
# A walkway is walked through (a corridor: transit, not a place shoppers stay); back-of-house is a service room and
# a toilet a restroom (neither a shop; the directory finds restrooms: "where is the toilet?"). A dotted category
# (restroom.female.wheelchair, walkway.island) is its base's.
KIND_FOR_UNIT_CATEGORY = {
    "parking": "garage", "movietheater": "cinema", "theater": "cinema", "foodservice": "food",
    "unenclosedarea": "atrium", "lobby": "atrium", "walkway": "corridor", "recreation": "atrium",
    "nonpublic": "service", "restroom": "restroom", "footbridge": "corridor", "platform": "corridor",
}


def kind_for_unit_category(category: str) -> str:
    """The zone kind of an IMDF unit category: its own entry, else its base category's (the part before the
    first dot), else a shop."""
    return KIND_FOR_UNIT_CATEGORY.get(category) or KIND_FOR_UNIT_CATEGORY.get(category.split(".")[0], "shop")
# Unit categories that say nothing of the trade (an exporter's default for every tenancy): the zone's kind is then
# its occupant's (KIND_FOR_OCCUPANT_CATEGORY), so that a cinema drawn as a "room" is offered the cinema apps.
GENERIC_UNIT_CATEGORIES = frozenset({"room", "unspecified"})
# Places to sit down to a meal (a queue app's customers); a cafe, a tea or dessert counter stays a shop, as the
# demo mall has it.
_EATING = _words("""
bar bistro buffet burgers chinese chinese.cantonese chinese.dimsum chinese.hunan chinese.shanghainese
chinese.szechuan cocktailbar dimsum dumplings fastfood hotpot indian italian japanese japanese.ramen korean
malaysian noodles pizza restaurant salad sandwiches seafood singaporean sportsbar steak sushi taiwanese thai vegan
vegetarian vietnamese
""")
KIND_FOR_OCCUPANT_CATEGORY = {
    **dict.fromkeys(_EATING, "restaurant"),
    **dict.fromkeys(("foodcourt", "foodstand", "canteen", "cafeteria", "kiosk.food"), "food"),
    "cinema": "cinema", "theater.movie": "cinema", "parking": "garage",
}


def kind_for_occupant_categories(categories: list[str]) -> str | None:
    """The zone kind a unit's occupants say (the one most of them say, the first on a tie), None when none does."""
    kinds = [k for k in (by_dotted_base(KIND_FOR_OCCUPANT_CATEGORY, c) for c in categories) if k]
    return max(kinds, key=kinds.count) if kinds else None


# What an unnamed unit is called (plans often leave walkways and toilets unnamed), in English and Chinese: a
# zone's name is stored in both languages, so this is data, not a catalog string. A dotted category takes its
# nearest listed ancestor's name (restroom.female.wheelchair -> restroom.female); others are an "Area".
UNIT_CATEGORY_NAMES = {
    "walkway": ("Walkway", "通道"), "footbridge": ("Footbridge", "天桥"), "lobby": ("Lobby", "大堂"),
    "unenclosedarea": ("Open area", "开放区域"), "recreation": ("Recreation area", "休闲区"),
    "restroom": ("Restroom", "洗手间"), "restroom.female": ("Women's restroom", "女洗手间"),
    "restroom.male": ("Men's restroom", "男洗手间"), "restroom.family": ("Family restroom", "家庭洗手间"),
    "restroom.unisex": ("Unisex restroom", "通用洗手间"),
    "restroom.wheelchair": ("Accessible restroom", "无障碍洗手间"),
    "mothersroom": ("Nursing room", "母婴室"), "firstaid": ("First aid", "急救室"), "shower": ("Shower", "淋浴间"),
    "smokingarea": ("Smoking area", "吸烟区"), "parking": ("Car park", "停车场"), "foodservice": ("Dining", "餐饮"),
    "movietheater": ("Cinema", "电影院"), "theater": ("Theatre", "剧院"), "lounge": ("Lounge", "休息室"),
    "waitingroom": ("Waiting room", "等候室"), "fitnessroom": ("Gym", "健身房"), "library": ("Library", "图书馆"),
    "conferenceroom": ("Meeting room", "会议室"), "office": ("Office", "办公室"), "room": ("Room", "房间"),
    "nonpublic": ("Staff area", "员工区域"), "storage": ("Storage", "储藏室"), "kitchen": ("Kitchen", "厨房"),
    "serverroom": ("Server room", "机房"), "mailroom": ("Mail room", "收发室"), "terrace": ("Terrace", "露台"),
    "platform": ("Platform", "站台"), "road": ("Road", "道路"), "vegetation": ("Planting", "绿化区"),
}
GENERIC_UNIT_NAME = ("Area", "区域")
KIOSK_NAMES = ("Kiosk", "售货亭")  # an unnamed kiosk with no occupant anchored in it


def by_dotted_base(table: Mapping[str, T], category: str) -> T | None:
    """`category`'s entry in `table`, else its nearest listed ancestor's (the category cut at a dot, as IMDF
    categories such as "restaurant.chinese.hunan" nest); None when neither is listed."""
    parts = category.split(".")
    for n in range(len(parts), 0, -1):
        found = table.get(".".join(parts[:n]))
        if found:
            return found
    return None


def unit_category_names(category: str) -> tuple[str, str]:
    """(English, Chinese) name of an unnamed unit of this IMDF category: its own entry, else its nearest
    listed ancestor's, else a generic "Area"."""
    return by_dotted_base(UNIT_CATEGORY_NAMES, category) or GENERIC_UNIT_NAME


# The amenity points we import, for the directory to list (fingerprints.model.Amenity): IMDF amenity category ->
# the kind shoppers ask for it by (lightapps/directory names and finds each kind; "restroom" is also the zone kind of
# a restroom unit). A dotted category takes its nearest listed ancestor's (prayerroom.islam -> prayerroom). Any other
# category (fire extinguishers, seating, gates, parking bays...) is not imported (import_imdf_with_notes notes how
# many); lifts, escalators and stairs never are: they are the walkway graph's, whose ends our export writes as
# amenities of those categories (CONNECTOR_KINDS).
AMENITY_KINDS = {
    "atm": "atm", "information": "information", "guestservices": "information", "firstaid": "firstaid",
    "defibrillator": "defibrillator", "babychanging": "babycare", "mothersroom": "babycare", "restroom": "restroom",
    "wheelchairassist": "wheelchair", "strollerrental": "stroller", "smokingarea": "smokingarea",
    "vendingmachine": "vendingmachine", "coinlocker": "lockers", "baggagestorage": "lockers",
    "drinkingfountain": "drinkingfountain", "powerchargingstation": "charging", "lostandfound": "lostandfound",
    "prayerroom": "prayerroom", "childplayarea": "playarea", "taxi": "taxi", "security": "security",
    "police": "security",
}
# What an unnamed amenity is called, in English and Chinese (data, as UNIT_CATEGORY_NAMES): its category's entry,
# else its nearest listed ancestor's.
AMENITY_CATEGORY_NAMES = {
    "atm": ("ATM", "自动取款机"), "information": ("Information desk", "服务台"),
    "guestservices": ("Customer service", "客户服务中心"), "firstaid": ("First aid", "医务室"),
    "defibrillator": ("Defibrillator (AED)", "自动体外除颤器 (AED)"), "babychanging": ("Baby changing", "母婴室"),
    "mothersroom": ("Nursing room", "母婴室"), "restroom": ("Restroom", "洗手间"),
    "restroom.female": ("Women's restroom", "女洗手间"), "restroom.male": ("Men's restroom", "男洗手间"),
    "restroom.family": ("Family restroom", "家庭洗手间"), "restroom.unisex": ("Unisex restroom", "通用洗手间"),
    "restroom.wheelchair": ("Accessible restroom", "无障碍洗手间"),
    "wheelchairassist": ("Wheelchair service", "轮椅服务"), "strollerrental": ("Stroller rental", "婴儿车租借"),
    "smokingarea": ("Smoking area", "吸烟区"), "vendingmachine": ("Vending machine", "自动售货机"),
    "coinlocker": ("Lockers", "储物柜"), "baggagestorage": ("Left luggage", "行李寄存处"),
    "drinkingfountain": ("Drinking water", "饮水处"), "powerchargingstation": ("Phone charging", "充电站"),
    "lostandfound": ("Lost and found", "失物招领处"), "prayerroom": ("Prayer room", "祈祷室"),
    "childplayarea": ("Children's play area", "儿童游乐区"), "taxi": ("Taxi stand", "出租车候车处"),
    "security": ("Security", "保安室"), "police": ("Police", "警务室"),
}


def amenity_kind(category: str) -> str | None:
    """The kind an IMDF amenity category is listed under (AMENITY_KINDS); None for one we do not import."""
    return by_dotted_base(AMENITY_KINDS, category)


def amenity_names(category: str) -> tuple[str, str]:
    """(English, Chinese) name of an unnamed amenity of this category (AMENITY_CATEGORY_NAMES), else a generic one."""
    return by_dotted_base(AMENITY_CATEGORY_NAMES, category) or GENERIC_UNIT_NAME


OCCUPANT_CATEGORY_FOR = {
    "electronics": "computersandaccessories", "fashion": "fashion", "books": "books", "cafe": "cafe",
    "cinema": "cinema", "restaurant": "restaurant", "parking": "parking", "food": "restaurant",
    "coffee": "coffee", "toys": "toys", "jewelry": "jewelry", "shoes": "shoestore",
}
# Unit categories that are building fabric, not places: not turned into zones on import.
STRUCTURAL_UNITS = frozenset({"brick", "column", "concrete", "drywall", "glass", "structure", "wood",
                              "opentobelow", "elevator", "escalator", "stairs", "steps", "movingwalkway",
                              "ramp"})
CONNECTOR_KINDS = ("elevator", "escalator", "stairs")

GEOMETRY_TYPES = {
    "venue": ("Polygon", "MultiPolygon"), "level": ("Polygon", "MultiPolygon"),
    "unit": ("Polygon", "MultiPolygon"), "fixture": ("Polygon", "MultiPolygon"),
    "section": ("Polygon", "MultiPolygon"), "footprint": ("Polygon", "MultiPolygon"),
    "geofence": ("Polygon", "MultiPolygon"), "kiosk": ("Polygon", "MultiPolygon"),
    "opening": ("LineString",), "amenity": ("Point",), "anchor": ("Point",),
    "occupant": (None,), "address": (None,), "building": (None,),
    "relationship": (None, "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"),
}
# Properties every feature of a type must have (a key; null allowed unless in NON_NULL).
REQUIRED = {
    "address": ("address", "unit", "locality", "province", "country", "postal_code", "postal_code_ext"),
    "venue": ("category", "restriction", "name", "alt_name", "hours", "phone", "website", "display_point",
              "address_id"),
    "level": ("category", "restriction", "outdoor", "ordinal", "name", "short_name", "display_point",
              "address_id", "building_ids"),
    "unit": ("category", "restriction", "accessibility", "name", "alt_name", "level_id", "display_point"),
    "opening": ("category", "accessibility", "access_control", "door", "name", "alt_name", "display_point",
                "level_id"),
    "amenity": ("category", "accessibility", "name", "alt_name", "hours", "phone", "website", "unit_ids",
                "address_id", "correlation_id"),
    "anchor": ("address_id", "unit_id"),
    "occupant": ("name", "category", "anchor_id", "hours", "phone", "website", "validity", "correlation_id"),
    "fixture": ("category", "name", "alt_name", "anchor_id", "level_id", "display_point"),
    "relationship": ("category", "direction", "origin", "intermediary", "destination", "hours"),
    "kiosk": ("name", "alt_name", "anchor_id", "level_id", "display_point"),
}
NON_NULL = {
    "address": ("address", "locality", "country"),
    "venue": ("category", "name", "display_point", "address_id"),
    "level": ("category", "outdoor", "ordinal", "name"),
    "unit": ("category", "level_id"),
    "opening": ("category", "level_id"),
    "amenity": ("category", "unit_ids"),
    "anchor": ("unit_id",),
    "occupant": ("name", "category", "anchor_id"),
    "fixture": ("category", "level_id"),
    "relationship": ("category", "direction"),  # origin, destination: "null or FEATURE-REFERENCE"
    "kiosk": ("level_id",),
}
# The lists above that hold only part of IMDF's (OCCUPANT_CATEGORIES): a well-formed category outside them is read,
# with a note; the other lists are IMDF's whole list, so a category outside one is a problem.
PARTIAL_CATEGORY_LISTS = frozenset({"occupant"})
CATEGORY_LISTS = {
    "venue": VENUE_CATEGORIES, "level": LEVEL_CATEGORIES, "unit": UNIT_CATEGORIES,
    "opening": OPENING_CATEGORIES, "amenity": AMENITY_CATEGORIES, "occupant": OCCUPANT_CATEGORIES,
    "relationship": RELATIONSHIP_CATEGORIES,
}
STANDARD_FILES = ("address", "venue", "level", "unit", "opening", "amenity", "anchor", "occupant", "fixture",
                  "relationship", "kiosk")
REQUIRED_FILES = ("manifest.json", "address.geojson", "venue.geojson", "level.geojson", "unit.geojson")
EXTENSION_FILES = ("mallportal_venue.geojson", "mallportal_walls.geojson", "mallportal_aps.geojson",
                   "mallportal_walkways.geojson")


class ImdfError(CatalogProblems):
    """An archive that breaks the IMDF rules we check; `problems` lists them all (in English), `details` each
    with its catalog message where it has one (core.errors.CatalogProblems: a console says them in the page's
    language)."""

    template = N_("invalid IMDF archive (%(count)s problem(s)):\n%(problems)s")
