-- The cost of an enqueue.lua call and its arguments alone (see README.md).
return {}
