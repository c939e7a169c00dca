# The shipping bot's scripts/migrate_order_ids.py, as the seed document gives it, for the
# back-fill benchmark (benches/backfill.rs). Changed only where it must be to run here:
#  - the connection string and database come from the command line (the seed hard-codes
#    mongodb://localhost:27017 and telegram_shipping_bot);
#  - generate_pure_uuid_order_id, imported from the bot's utils/order_utils.py, is written out:
#    the seed documents its "pure UUID" form as a UUID4 string.
# Its mistakes are kept on purpose (it skips order_id: null and "", loads every order into
# memory, and makes one round trip per order): this is the baseline orderdesk is measured against.
import asyncio
import sys
import uuid

from motor.motor_asyncio import AsyncIOMotorClient


def generate_pure_uuid_order_id():
    return str(uuid.uuid4())


async def migrate():
    client = AsyncIOMotorClient(sys.argv[1])
    db = client[sys.argv[2]]

    # Find every order without order_id
    orders_without_id = await db.orders.find(
        {"order_id": {"$exists": False}}
    ).to_list(None)

    print(f"Found {len(orders_without_id)} orders without order_id")

    # Add order_id
    for order in orders_without_id:
        order_id = generate_pure_uuid_order_id()
        await db.orders.update_one(
            {"_id": order["_id"]},
            {"$set": {"order_id": order_id}}
        )
        print(f"Updated order {order['id']} → {order_id}")

    print("✅ Migration complete!")
    client.close()

asyncio.run(migrate())
