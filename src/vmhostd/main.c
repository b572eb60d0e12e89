/* Placeholder until the daemon helper lands main.c. */
int main(void)
{
    return 1;
}
